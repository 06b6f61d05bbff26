"""PayPay Open Payment API: dynamic QR code with pre-authorization, capture, revert, cancel,
refund (provider.py says what the folder holds)."""
