"""ECR shim for moto 5.2.5, applied by scripts/moto_server.py before the server starts.

- Every image a task definition names exists, unless the emulator was started with
  MOTO_ECR_REAL_IMAGES set. moto runs a service's tasks without pulling their image (no image
  need exist for tasks to start, unlike AWS), and rtech's plan asks BatchGetImage whether the
  tag of a task definition it is about to register is in the env's repository (the
  first-deploy order, src/reconcile/ecs/taskdef/image.rs). So that every test that deploys the
  app need not push an image first, BatchGetImage answers a tag that is not there (or a
  repository that does not exist yet) with an image of that tag and a made-up digest, as AWS
  would once the image was pushed. With MOTO_ECR_REAL_IMAGES set it is moto's own answer
  (`failures` with ImageNotFound, RepositoryNotFoundException): the tests of the first-deploy
  order and of `rtech image push` start the emulator so.
Every patched name is checked first, so a moto upgrade that moves one fails loudly at start-up.
"""
import hashlib
import os

import moto
import moto.ecr.models as ecr_models

REAL_IMAGES = "MOTO_ECR_REAL_IMAGES" in os.environ


from moto_shimkit import requirer

_require = requirer("the ECR shim", "scripts/moto_ecr_shim.py")


def _image(backend, repository_name, tag):
    digest = "sha256:" + hashlib.sha256(f"{repository_name}:{tag}".encode()).hexdigest()
    return {
        "registryId": backend.account_id,
        "repositoryName": repository_name,
        "imageId": {"imageDigest": digest, "imageTag": tag},
        "imageManifest": "{}",
        "imageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json",
    }


def apply():
    backend = _require(ecr_models, "ECRBackend")
    _require(ecr_models, "RepositoryNotFoundException")
    batch_get_image = _require(backend, "batch_get_image")
    if REAL_IMAGES:
        return

    def lenient_batch_get_image(self, repository_name, registry_id=None, image_ids=None):
        try:
            response = batch_get_image(self, repository_name, registry_id, image_ids)
        except ecr_models.RepositoryNotFoundException:
            response = {
                "images": [],
                "failures": [{"imageId": i, "failureCode": "ImageNotFound"} for i in image_ids or []],
            }
        for f in response.get("failures", []):
            tag = (f.get("imageId") or {}).get("imageTag")
            if tag and tag != "null":
                response["images"].append(_image(self, repository_name, tag))
        response["failures"] = [
            f for f in response.get("failures", []) if not (f.get("imageId") or {}).get("imageTag")
        ]
        return response

    backend.batch_get_image = lenient_batch_get_image
