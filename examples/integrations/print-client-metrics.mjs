// Prints what a ClientMetrics recorded, for the client examples.
export async function printClientMetrics(metrics) {
  const { resourceMetrics } = await metrics.producer.collect();
  for (const metric of resourceMetrics.scopeMetrics[0].metrics) {
    for (const point of metric.dataPoints) {
      if (point.value.count === 0) continue;
      const labels = Object.entries(point.attributes).map(([k, v]) => `${k}=${v}`).join(' ');
      console.log(`${metric.descriptor.name} {${labels}} count=${point.value.count} sum=${+point.value.sum.toFixed(4)}`);
    }
  }
}
