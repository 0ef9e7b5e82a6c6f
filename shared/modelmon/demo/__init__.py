"""The end-to-end demo: a real scikit-learn model, phased traffic, and the whole pipeline.

``dataset`` (the loan book), ``model`` (train + serve), ``phases`` (the schedule as data),
``traffic`` (the generator), and ``runner`` (``modelmon demo run``: starts, watches and stops
everything). See docs/demo.md.
"""
