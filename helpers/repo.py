"""The kit's repository: the one place its URL lives.

`python -m helpers set-repo https://github.com/<you>/<fork>` rewrites this file, the
notebooks' Colab badges and install lines, and the README for an instructor's fork.
"""

REPO_URL = "https://github.com/image-dl-kit/image-dl-kit"
BRANCH = "main"
