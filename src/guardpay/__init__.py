"""guardpay: a self-hostable mobile payment platform with risk control in the payment path."""

__version__ = "0.1.0"
