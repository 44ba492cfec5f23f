// Checks custom resources against the pinned operators' CRD schemas (see */SOURCES.md).
// stdin: a JSON array of objects. stdout: a JSON array with one entry per object, [] when it is valid,
// otherwise its errors as "<path> <message>". A kind not listed in kinds.json is an error: a custom resource
// nobody pinned a schema for is not checked, so it is refused.
import { readFileSync } from "node:fs";

const { kinds } = JSON.parse(readFileSync(new URL("./kinds.json", import.meta.url), "utf8"));
const objects = JSON.parse(readFileSync(0, "utf8"));

async function check(object) {
  const key = `${object?.apiVersion}/${object?.kind}`;
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
