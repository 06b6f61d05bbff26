"""ジョブ管理: every batch as a job with counts, a log and a per-item CSV."""
