"""The local kubelet (`kubelet.py`): a stand-in for kubelet that runs the pods bound to
this machine's node as local processes, each pod in a network namespace of its own with a
real pod IP."""
