// Names for the API's schemas, so pages say `LoanRow` rather than components['schemas'][...].
import type { components } from './schema';

type Schemas = components['schemas'];

export type Portfolio = Schemas['PortfolioOut'];
export type Buckets = Schemas['BucketsOut'];
export type Categories = Schemas['CategoriesOut'];
export type Trend = Schemas['TrendOut'];
export type TrendPoint = Schemas['TrendPointOut'];
export type RunStatus = Schemas['RunStatusOut'];
export type EodRun = Schemas['EodRunOut'];
export type LoanRow = Schemas['LoanRowOut'];
export type LoanHistory = Schemas['LoanHistoryOut'];
export type FiveCategoryKey = Schemas['FiveCategoryKey'];
export type Customer = Schemas['CustomerOut'];
export type CustomerDetail = Schemas['CustomerDetailOut'];
export type ContactPoint = Schemas['ContactPointOut'];
export type LoanSummary = Schemas['LoanSummaryOut'];
export type LoanDetail = Schemas['LoanDetailOut'];
export type Installment = Schemas['InstallmentOut'];
export type Payment = Schemas['PaymentOut'];
export type Product = Schemas['ProductOut'];
export type ImportReport = Schemas['ImportReportOut'];
export type ImportKind = Schemas['ImportKind'];
export type ImportRunSummary = Schemas['ImportRunSummaryOut'];
export type RowError = Schemas['RowErrorOut'];
export type SchedulePreviewIn = Schemas['SchedulePreviewIn'];
export type SchedulePreview = Schemas['SchedulePreviewOut'];
export type Method = Schemas['Method'];

/** One page of a list endpoint. */
export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  page_size: number;
}

/**
 * The delinquency part of `GET /loans/{ref}`: the route adds it to LoanDetailOut (which
 * allows extra members), so the schema does not name it; this is its shape
 * (docs/delinquency.md, "arrears loan show").
 */
export interface LoanState {
  as_of: string;
  past_due_days: number;
  delinquent_days: number;
  paused_days: number;
  bucket: string;
  overdue: { principal: string; interest: string; fee: string; penalty: string; total: string };
  overdue_by_bucket: Record<string, string>;
  classification: {
    five_category: FiveCategoryKey;
    five_category_label: string;
    ifrs9_stage: number;
    non_performing: boolean;
    non_performing_by_contagion: boolean;
  };
  holds: Hold[];
}

export interface Hold {
  id: number;
  start_on: string;
  end_on: string | null;
  reason: string;
  suspends_penalty?: boolean;
  note?: string | null;
  [member: string]: unknown;
}

export type LoanView = LoanDetail & Partial<LoanState>;

/** `GET /eod-runs` answers `{items: [...]}` of run views (EodRunOut's shape). */
export interface EodRunList {
  items: EodRun[];
}
