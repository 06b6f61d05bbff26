"""The simulator base every provider's simulator stands on.

- base.py: the class a provider's simulator subclasses (routes, the provider's error answer,
  restore/forget); it applies the fault switches to each call, keeps records in the store,
  holds the clock and serves /_control, /_records and /_calls (docs/providers.md, step 3);
- faults.py: the fault switches every simulator has (latency, a response lost after or before
  the provider acted, the provider's rate-limit answer, an injected error code, a 5xx from the
  provider's front), set with POST /_control and shown by GET /_control;
- store.py: a simulator's records in kessai's own database (simulator_records), so a restart
  keeps them as a real provider would; card data is never among them;
- notify.py: notices a simulator posts to the merchant, posted again after the provider's
  growing pauses while not taken, each attempt kept (kind "notice") and in the call log.

Connection refused needs no switch: point the account at a port where nothing listens.
"""
