"""Demand forecasting: series of GPU-hours demanded, statistical models chosen by backtest,
and calibrated prediction intervals."""
