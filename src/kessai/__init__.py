"""kessai: the payment back office of a Japanese e-commerce shop."""

__version__ = "0.1.0"
