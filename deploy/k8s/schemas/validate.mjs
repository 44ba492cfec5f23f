// Checks custom resources against the pinned operators' CRD schemas (see */SOURCES.md).
// stdin: a JSON array of objects. stdout: a JSON array with one entry per object, [] when it is valid,
// otherwise its errors as "<path> <message>". A kind not listed in kinds.json is an error: a custom resource
// nobody pinned a schema for is not checked, so it is refused. The few kinds no registry package describes are
// named in kinds.json's metadataOnly, each with its reason and the test that checks its fields instead: only
// their metadata is checked here (barman-cloud/SOURCES.md).
import { readFileSync } from "node:fs";
import { ObjectMeta } from "@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta";

const { kinds, metadataOnly } = JSON.parse(readFileSync(new URL("./kinds.json", import.meta.url), "utf8"));
const objects = JSON.parse(readFileSync(0, "utf8"));
// A DNS-1123 subdomain, what Kubernetes requires of most objects' names.
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function checkMetadataOnly(object) {
  const errors = [];
  const metadata = object.metadata;
  if (typeof metadata?.name !== "string" || metadata.name.length > 253 || !NAME.test(metadata.name)) {
    errors.push(`/metadata/name must be a DNS-1123 subdomain: ${JSON.stringify(metadata?.name)}`);
  }
  try {
    new ObjectMeta(metadata ?? {}).validate();
  } catch (error) {
    for (const e of error.errors ?? [{ instancePath: "", message: error.message }]) {
      errors.push(`/metadata${e.instancePath} ${e.message}`);
    }
  }
  if (typeof object.spec !== "object" || object.spec === null || Array.isArray(object.spec)) {
    errors.push("/spec must be an object");
  }
  return errors;
}

async function check(object) {
  const key = `${object?.apiVersion}/${object?.kind}`;
  if (metadataOnly[key]) return checkMetadataOnly(object);
  const module = kinds[key];
  if (!module) return [`${key}: no pinned CRD schema for this apiVersion and kind`];
  const Model = (await import(module))[object.kind];
  if (Model?.apiVersion !== object.apiVersion || Model?.kind !== object.kind) {
    return [`${key}: ${module} does not define this kind`];
  }
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    const details = error.errors ?? [{ instancePath: "", message: error.message }];
    return details.map((e) => `${e.instancePath || "/"} ${e.message}${e.params ? " " + JSON.stringify(e.params) : ""}`);
  }
}

const verdicts = [];
for (const object of objects) verdicts.push(await check(object));
process.stdout.write(JSON.stringify(verdicts));
