"""IAM: policy simulation, which moto lacks (IAM is not enforced)."""
