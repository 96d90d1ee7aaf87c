import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './infra-paths.ts';

function kafkaJarsPresent(dir: string): boolean {
  try {
    return readdirSync(dir).some((f) => /^kafka_2\.13-.*\.jar$/.test(f));
  } catch {
    return false;
  }
}

/** The broker's jars, fetched with Maven (infra/pom.xml) if they are not cached yet. */
export function ensureKafkaLibs(dir: string, log?: (l: string) => void): void {
  if (kafkaJarsPresent(dir)) return;
  log?.(`infra: fetching Kafka jars into ${dir} (mvn)`);
  const r = spawnSync(
    'mvn',
    ['-q', '-B', '-Dstyle.color=never', '-f', join(REPO_ROOT, 'infra', 'pom.xml'), 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${dir}`],
    { encoding: 'utf8', timeout: 600_000 },
  );
  if (r.error || r.status !== 0 || !kafkaJarsPresent(dir)) {
    const why = r.error ? r.error.message : `${r.stdout}\n${r.stderr}`.trim().slice(-2000);
    throw new Error(`infra: kafka jars are missing in ${dir} and mvn could not fetch them (run \`bash infra/setup.sh\`): ${why}`);
  }
}
