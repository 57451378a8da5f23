"""Local tooling: the Docker-free local stack and the pregen ops CLI. Never shipped to Lambda."""
