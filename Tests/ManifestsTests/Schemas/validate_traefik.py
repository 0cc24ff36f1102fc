"""Validates Traefik resources against their CRD's openAPIV3Schema (jsonschema Draft 7).

Usage: validate_traefik.py CRDS.yaml FILE... ; prints one line per problem, exits 1 if any.
"""
import sys

import jsonschema
import yaml

crds, files = sys.argv[1], sys.argv[2:]
schemas = {}
for document in yaml.safe_load_all(open(crds)):
    if document and document.get("kind") == "CustomResourceDefinition":
        schemas[document["spec"]["names"]["kind"]] = document["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
problems = 0
for path in files:
    for resource in yaml.safe_load_all(open(path)):
        schema = schemas.get(resource.get("kind"))
        if schema is None:
            print(f"{path}: no CRD for kind {resource.get('kind')}")
            problems += 1
            continue
        for error in jsonschema.Draft7Validator(schema).iter_errors(resource):
            print(f"{path}: {'/'.join(map(str, error.path))}: {error.message}")
            problems += 1
sys.exit(1 if problems else 0)
