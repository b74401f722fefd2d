"""The selector language: text (``svm[C=[1,10]]``, ``a:B+c:D``) or objects parsed into configured pipelines.

May import ``spec.pipelines`` (registered names) and scikit-learn; nothing else of the package.
"""
