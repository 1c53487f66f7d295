// Prints what a ClientMetrics recorded, for the client examples.
/** @param {import('@inferwatch/sdk').ClientMetrics} metrics */
export async function printClientMetrics(metrics) {
  const { resourceMetrics } = await metrics.producer.collect();
  for (const metric of resourceMetrics.scopeMetrics[0].metrics) {
    for (const { value, attributes } of metric.dataPoints) {
      // Every client metric is a histogram: a point is a count and a sum.
      if (typeof value === 'number' || value.count === 0) continue;
      const labels = Object.entries(attributes).map(([k, v]) => `${k}=${v}`).join(' ');
      console.log(`${metric.descriptor.name} {${labels}} count=${value.count} sum=${+(value.sum ?? NaN).toFixed(4)}`);
    }
  }
}
