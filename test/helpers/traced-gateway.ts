import { spanReceiver } from './otlp-spans.js';
import { startProcess, type Started } from './processes.js';
import { scriptedUpstream } from './upstream.js';

/**
 * The gateway as its command line runs it, with tracing configured only through OTEL_* variables: spans
 * over OTLP http/json to a loopback receiver, in front of the scripted upstream (which records the
 * `traceparent` it receives), serving `models`. `stop()` ends all three.
 */
export async function startTracedGateway(models: readonly string[]) {
  const receiver = await spanReceiver();
  const upstream = await scriptedUpstream();
  let gateway: Started;
  try {
    gateway = await startProcess(
      'examples/gateway/main.mjs',
      // The scripted upstream lists no models: routes declare the ones the test asks for (others get 404).
      ['--host', '127.0.0.1', ...models.flatMap((m) => ['--route', `${m}=${upstream.url}`]), '--log-interval-ms', '0', '--bridge-interval-ms', '0'],
      'OpenAI-compatible gateway on',
      {
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_METRICS_EXPORTER: 'prometheus',
        OTEL_BSP_SCHEDULE_DELAY: '50',
        OTEL_SERVICE_NAME: 'gateway-under-test',
      },
    );
  } catch (error) {
    await upstream.close();
    await receiver.close();
    throw error;
  }
  return {
    gateway,
    upstream,
    receiver,
    async stop() {
      await gateway.stop();
      await upstream.close();
      await receiver.close();
    },
  };
}
