"""A deterministic population simulator that drives the platform's own services.

`guardpay simulate` builds a population (people, merchants, devices, habits), opens their
accounts, then runs them day by day through the payment services — so the live risk
engine decides every payment — while fraud and laundering cases act among them. Every
attempted money-moving request becomes one labelled row (records.py): what the platform
decided, and the ground truth of which case (if any) made it.

Layout: config (parameters), population (who), platform (the services and the set-up),
actions (one request as a person makes it), ordinary / fraud / laundering (what people
do), runner (the day loop), records (rows and output files).
"""
