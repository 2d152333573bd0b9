"""Offline evaluation of risk control: replay simulated transactions through the live
decision path, train on the first part of the period, measure the rest.

Modules: `data` (read and type the transactions), `replay` (the decision path, in time
order), `metrics` (pure figures over decided requests), `plots`, `report` (HTML and
plain-words summary), `run` (all of it, for `guardpay evaluate`)."""
