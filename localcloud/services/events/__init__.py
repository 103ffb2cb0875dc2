"""EventBridge: delivery to the targets moto cannot reach, and schedule rules that fire."""
