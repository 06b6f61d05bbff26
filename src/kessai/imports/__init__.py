"""The CSV imports operators run daily: 出荷CSVインポート and 決済状況CSV一括更新."""
