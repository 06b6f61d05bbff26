"""GMO PG 継続課金 (seed 002): 定期 orders on a 継続課金 method are charged by GMO in a monthly
file. 決済待ち → 配送完了 → 決済完了; around the 8th every order shipped by the end of the
previous month goes up in one file; around the 18th its result marks each 売上報告済 or
売上失敗; around the 27th the 有効性チェック marks NG cards and mails the customer and shop."""
