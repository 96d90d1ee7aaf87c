/** The single-node KRaft broker's configuration files, written on every start. */
import { randomBytes } from 'node:crypto';
import { HOST, serviceDataDir, type InfraConfig } from './infra-paths.ts';

/** `server.properties` of the broker (broker and controller in one process). */
export function kafkaServerProperties(cfg: InfraConfig): string {
  const p = cfg.ports;
  return `# written by infra/kafka-config.ts on every start
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${HOST}:${p.kafkaController}
listeners=PLAINTEXT://${HOST}:${p.kafka},CONTROLLER://${HOST}:${p.kafkaController}
advertised.listeners=PLAINTEXT://${HOST}:${p.kafka}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${serviceDataDir(cfg, 'kafka')}
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
delete.topic.enable=true
group.initial.rebalance.delay.ms=500
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
num.network.threads=2
num.io.threads=4
log.cleaner.dedupe.buffer.size=16777216
log.retention.hours=168
log.segment.bytes=268435456
`;
}

/** `log4j.properties` of a broker: everything to `file` (`logs/kafka.log`, `logs/kafka-<n>.log` in the cluster). */
export function kafkaLog4jProperties(file: string): string {
  return `# written by infra/kafka-config.ts on every start
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=${file}
log4j.appender.file.Append=true
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.controller=INFO
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.authorizer.logger=WARN
`;
}

/** A fresh cluster id for `StorageTool format` (base64url, never starting with `-`, which the tool would read as a flag). */
export function kafkaClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}
