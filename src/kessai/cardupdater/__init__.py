"""自動洗替 (GMO PG card updater): each month the stored cards seed 000 selects go to GMO PG
as a request file over SFTP; the result file (洗替判定結果 0–3, new expiry and masked number)
comes back on the 27th and is applied to the cards, and so to every 定期受注 using them."""
