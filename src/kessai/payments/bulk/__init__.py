"""決済状況一括変更: one payment operation on many orders, run as a job."""
