"""Identity rules, pure: documents, phones, cards, merchants, masking and account classes.

Every validator raises a `guardpay.errors` error with a specific `code` and the `param`
it is about, and never puts the rejected value into the message (it may be a real
person's ID, phone or card number).
"""
