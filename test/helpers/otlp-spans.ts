import { serve } from './net.js';

type AnyValue = { stringValue?: string; intValue?: number | string; doubleValue?: number; boolValue?: boolean; arrayValue?: { values: AnyValue[] } };

/** A span as an OTLP/JSON receiver sees it, with attributes decoded to plain values. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startMs: number;
  endMs: number;
  status: { code?: number; message?: string };
  attributes: Record<string, unknown>;
  events: string[];
  service: string | undefined;
}

function decode(value: AnyValue): unknown {
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(decode);
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.stringValue ?? value.doubleValue ?? value.boolValue;
}

const attributes = (list: { key: string; value: AnyValue }[] = []) => Object.fromEntries(list.map((a) => [a.key, decode(a.value)]));

/** OTLP/JSON ids are hex strings (protobuf-JSON mapping as the OTel JS exporter writes it). */
function parse(body: string): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of JSON.parse(body).resourceSpans ?? []) {
    const service = attributes(rs.resource?.attributes)['service.name'] as string | undefined;
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          name: s.name,
          kind: s.kind,
          startMs: Number(BigInt(s.startTimeUnixNano) / 1000n) / 1000,
          endMs: Number(BigInt(s.endTimeUnixNano) / 1000n) / 1000,
          status: s.status ?? {},
          attributes: attributes(s.attributes),
          events: (s.events ?? []).map((e: { name: string }) => e.name),
          service,
        });
      }
    }
  }
  return out;
}

/** A loopback OTLP/HTTP JSON receiver for `/v1/traces` that keeps every span it gets (bounded: 1 MiB a request). */
export async function spanReceiver() {
  const spans: ReceivedSpan[] = [];
  const app = await serve((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 1 << 20) chunks.push(c);
    });
    req.on('end', () => {
      if (req.url === '/v1/traces' && size <= 1 << 20) spans.push(...parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return { ...app, spans, tracesUrl: `${app.url}/v1/traces` };
}
