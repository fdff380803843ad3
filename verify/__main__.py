"""python -m verify: one line per claim; exit status 1 if any claim fails."""

from __future__ import annotations

import sys

from verify import run_all
from verify.controls import run_controls
from verify.mnist import load_mnist_digit, mnist_test_images_path


def main() -> int:
    try:
        image = load_mnist_digit()
    except ValueError as err:
        print(f"error: bad MNIST file: {err}", file=sys.stderr)
        return 2
    results = run_all(mnist_image=image)
    for r in results:
        print(r.line())
    if image is None:
        print(
            "T2d.cnn_mnist_not_equivariant  [skipped] CNN on an MNIST digit: "
            f"{mnist_test_images_path()} is not there yet (run `make data`)"
        )
    controls = run_controls(results)
    for c in controls:
        print(c.line())
    failed = [r for r in results if not r.passed]
    missed = [c for c in controls if not c.caught]
    caught = len(controls) - len(missed)
    print(f"{len(controls)} negative controls: {caught} caught, {len(missed)} missed")
    print(f"{len(results)} claims: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed or missed else 0


if __name__ == "__main__":
    sys.exit(main())
