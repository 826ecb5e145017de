"""Load tests: Locust user classes (locustfile.py), the profiles they run at
(profiles.py), the dataset they draw on (dataset.py) and the runner with SLO gates (run.py).

Never import locust from here or from anything pytest imports: it monkey-patches with gevent.
"""
