"""What is not the product: the demo network generator and the benchmark."""
