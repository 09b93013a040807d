# The benchmarks time things; they assert nothing. Keep pytest out even when it
# is pointed at the repository root or at bench/ itself.
collect_ignore_glob = ["*"]
