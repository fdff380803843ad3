"""ex2: data, models, training loops and cached experiments for the MNIST exercise (Ex2)."""
