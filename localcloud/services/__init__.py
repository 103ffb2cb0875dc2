"""One package per AWS service, as moto organises its own: what moto lacks for that service, and the
CloudFormation resource types it owns (``<service>/cfn.py``), installed by ``core.registry``."""
