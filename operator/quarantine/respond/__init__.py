"""The responder: plans and runs a DetectionRule's playbook against an Alert's pod, safely and
reversibly. Pure planning (isolation verdict, safety, naming, outcome) sits beside thin
Kubernetes I/O (kube, actions, release), so the decisions are unit-tested without a cluster."""
