"""KOMOJU (WeChat Pay, Alipay and credit card)."""
