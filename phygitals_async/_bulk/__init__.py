"""Bulk sellback: sell_back_many, iter_sell_back, the run and its adaptive limit."""
