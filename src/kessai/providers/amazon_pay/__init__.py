"""Amazon Pay API v2 (Japan)."""
