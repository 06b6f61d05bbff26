// 試験購入: the card number goes to the provider's token endpoint (GMO's token.js shape),
// and only the token is posted to kessai. Fields without a name are never submitted.
(function () {
  var form = document.getElementById("shop");
  if (!form) { return; }
  var method = document.getElementById("payment_method");
  var cardFields = document.getElementById("card-fields");
  var scenario = document.getElementById("scenario-field");
  var error = document.getElementById("token-error");
  function tokenized() {
    return method.selectedOptions[0].getAttribute("data-tokenized") === "1";
  }
  var choices = document.getElementById("scenario");
  function show() {
    cardFields.style.display = tokenized() ? "" : "none";
    // Only the chosen method's scenarios (from its provider's declaration) are offered.
    var first = null;
    Array.prototype.forEach.call(choices.options, function (o) {
      var mine = o.getAttribute("data-for") === method.value;
      o.hidden = !mine;
      o.disabled = !mine;
      if (mine && first === null) { first = o; }
    });
    if (first !== null && choices.selectedOptions[0] && choices.selectedOptions[0].disabled) {
      first.selected = true;
    }
    if (first !== null && !choices.selectedOptions.length) { first.selected = true; }
    scenario.style.display = tokenized() || first === null ? "none" : "";
  }
  method.addEventListener("change", show);
  show();
  form.addEventListener("submit", function (event) {
    if (!tokenized() || document.getElementById("token").value) { return; }
    event.preventDefault();
    var shopId = method.selectedOptions[0].getAttribute("data-shop-id");
    if (shopId) { window.Multipayment.init(shopId); }
    window.Multipayment.getToken({
      cardno: document.getElementById("cardno").value.replace(/[\s-]/g, ""),
      expire: document.getElementById("expire").value,
      securitycode: document.getElementById("securitycode").value
    }, function (answer) {
      if (answer.resultCode !== "000") {
        error.textContent = "カード情報を確認してください(トークン取得エラー: " + answer.resultCode + ")";
        error.hidden = false;
        return;
      }
      document.getElementById("token").value = answer.tokenObject.token[0];
      form.submit();
    });
  });
})();
