"""Mails to customers and the shop: Jinja2 templates, an outbox written with the event, SMTP.

A mail is rendered and written to the outbox in the transaction of the event that causes it,
so it exists exactly when the event does; it is sent after that transaction commits.
"""
