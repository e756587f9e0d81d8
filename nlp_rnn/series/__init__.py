"""Time series: reading a series, windows over it, stationarity transforms, classical baselines
and forecast metrics. The RNN itself is :mod:`nlp_rnn.models.forecaster`; training and prediction
are :mod:`nlp_rnn.tasks.forecasting`.
"""
