// Grafana's own types for what dashboards/generate.mjs writes, from @grafana/schema at the version of the
// Grafana that dashboards/docker-compose.yaml runs (11.3). `npm run typecheck` checks the generator against
// them (dashboards/tsconfig.json), so a field or value this Grafana does not know fails the build.
import type { Dashboard as GrafanaDashboard, DataQuery, DataSourceRef, FieldConfig, GridPos, Panel as GrafanaPanel, RowPanel as GrafanaRowPanel, VariableModel } from '@grafana/schema';
import type { Options as BarGaugeOptions } from '@grafana/schema/dist/esm/raw/composable/bargauge/panelcfg/x/BarGaugePanelCfg_types.gen.js';
import type { Options as StatOptions } from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen.js';
import type { Options as TimeSeriesOptions } from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen.js';

/**
 * What a saved dashboard may leave out: every field optional at every depth (Grafana fills in its defaults
 * when it loads one), string enums as the strings JSON holds. A field the type does not have is still an error.
 */
type Saved<T> = T extends string ? `${T}` : T extends readonly (infer U)[] ? Saved<U>[] : T extends object ? { [K in keyof T]?: Saved<T[K]> } : T;

/**
 * A Prometheus query as Grafana's Prometheus data source stores it (its dataquery.cue, PrometheusDataQuery);
 * @grafana/schema does not export that plugin's type. Flattened into one object type: a panel's targets are
 * records, which an interface is not.
 */
export type PromQuery = Flat<
  DataQuery & {
    expr: string;
    legendFormat?: string;
    instant?: boolean;
    range?: boolean;
    format?: 'time_series' | 'table' | 'heatmap';
    exemplar?: boolean;
    editorMode?: 'code' | 'builder';
    interval?: string;
    intervalFactor?: number;
  }
>;
type Flat<T> = { [K in keyof T]: T[K] };

export interface PanelOptions {
  timeseries: Saved<TimeSeriesOptions>;
  stat: Saved<StatOptions>;
  bargauge: Saved<BarGaugeOptions>;
}
export type PanelType = keyof PanelOptions;

/** A panel of one of the types the dashboards use, with that type's own options and Prometheus queries. */
export type Panel<T extends PanelType = PanelType> = Omit<GrafanaPanel, 'type' | 'options' | 'targets' | 'fieldConfig'> & {
  type: T;
  options: PanelOptions[T];
  targets: PromQuery[];
  fieldConfig: { defaults: FieldConfig; overrides: [] };
};
export type RowPanel = GrafanaRowPanel;
export type Dashboard = GrafanaDashboard;
export type { DataSourceRef, FieldConfig, GridPos, VariableModel };
