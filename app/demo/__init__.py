"""Demo data: a realistic district with two years of history, for demos, tests and benchmarks.

Not part of the product: nothing in the app imports it except the ``demo-district`` command.
:mod:`app.demo.district` is the entry point (``generate(seed, scale)``); it writes the org tree,
people and stations, then runs each area's generator (:mod:`~app.demo.checkin`,
:mod:`~app.demo.activities`, :mod:`~app.demo.needs`) and any registered extension
(:mod:`~app.demo.context`). :mod:`~app.demo.names` holds the word pools.
"""
