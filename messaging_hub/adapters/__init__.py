"""Built-in provider adapters, one package each."""
