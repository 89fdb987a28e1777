import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import { type IMetric, MathExpression, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import {
  AttributeType,
  BillingMode,
  type CfnTable,
  Operation,
  ProjectionType,
  StreamViewType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { TABLE_KEYS } from '../lib/store/keys.js';
import { nagArn } from './nag.js';
import type { ServiceFunction } from './service-function.js';

/** The store's indexes: lookups by value (global) and free room per pool (local); lib/store/items.ts owns the names. */
export const BY_VALUE_INDEX = TABLE_KEYS.valueIndex;
export const BY_ROOM_INDEX = TABLE_KEYS.roomIndex;
export const BY_OWNER_INDEX = TABLE_KEYS.ownerIndex;
export const BY_EXPIRY_INDEX = TABLE_KEYS.leaseIndex;

/**
 * The data-plane operations lib/store/ issues (Get, BatchGet, Query, Put, Update, TransactWrite): one
 * ThrottledRequests series each. An alarm may use at most 10 metrics, so not every operation DynamoDB
 * has; test/infra/alarms.test.ts fails when the store starts issuing one that is missing here.
 */
const STORE_OPERATIONS = [
  Operation.GET_ITEM,
  Operation.BATCH_GET_ITEM,
  Operation.QUERY,
  Operation.PUT_ITEM,
  Operation.UPDATE_ITEM,
  Operation.TRANSACT_WRITE_ITEMS,
  Operation.BATCH_WRITE_ITEM,
] as const;

/**
 * What lib/store/ asks of the table, as IAM actions: reads are GetItem, BatchGetItem and Query (on the
 * table and its indexes); writes are conditional PutItem and UpdateItem and the Put, Update and Delete
 * items of its TransactWriteItems (and their ConditionChecks), which IAM authorizes action by action. Nothing else: no Scan, no
 * table management. (The history function's BatchWriteItem of history entries is granted apart, by
 * infra/history-recorder.ts, and only on keys beginning HIST#; its stream reads by the event source.) test/infra/functions.test.ts derives the same sets
 * from the store's source and fails when they drift apart.
 */
const STORE_READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'];
// ConditionCheckItem: a batch's transaction checks, unchanged, the records of items already held.
const STORE_WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem'];

/** The lease sweeper's reads and the items of its transactions (no ConditionCheck, no BatchWriteItem). */
export const LEASE_SWEEP_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:PutItem'];

/**
 * The single table that holds pools, bitmap chunks, allocations and config syncs. It is the system of
 * record for who holds which address or VNI, so it outlives the stack: retained on delete, protected
 * against deletion, and restorable to any second of the last 35 days.
 */
export class AllocationTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: AttributeType.STRING },
      // Allocation traffic is bursty (a rack coming up allocates hundreds of values at once).
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      encryption: TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: TABLE_KEYS.ttl,
      // What history is derived from (infra/history-recorder.ts): both images, to see what changed.
      stream: StreamViewType.NEW_AND_OLD_IMAGES,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: BY_VALUE_INDEX,
      partitionKey: { name: TABLE_KEYS.valueIndexPartitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.valueIndexSortKey, type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });
    // Everything an owner holds across pools; only allocation records carry `owner`.
    this.table.addGlobalSecondaryIndex({
      indexName: BY_OWNER_INDEX,
      partitionKey: { name: TABLE_KEYS.ownerIndexPartitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.ownerIndexSortKey, type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });
    // Leased allocation records by expiry, for the lease sweeper (lib/store/expire.ts): sparse (only a
    // leased record has its keys) and keys only (the sweeper reads each record again by key).
    this.table.addGlobalSecondaryIndex({
      indexName: BY_EXPIRY_INDEX,
      partitionKey: { name: TABLE_KEYS.leaseIndexPartitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.leaseIndexSortKey, type: AttributeType.STRING },
      projectionType: ProjectionType.KEYS_ONLY,
    });
    // Keys only: the entry changes when a chunk's room key does (it fills, empties or its largest free
    // block changes), not on every write. A table's local indexes can only be made with the table.
    this.table.addLocalSecondaryIndex({
      indexName: BY_ROOM_INDEX,
      sortKey: { name: TABLE_KEYS.roomIndexSortKey, type: AttributeType.STRING },
      projectionType: ProjectionType.KEYS_ONLY,
    });
  }

  /** What the store reads and writes: items and the index, conditional writes and transactions. */
  grantReadWriteData(fn: ServiceFunction): void {
    this.table.grant(fn.function, ...STORE_READ_ACTIONS, ...STORE_WRITE_ACTIONS);
    this.acknowledgeIndexes(fn);
  }

  /**
   * What the lease sweeper (lib/store/expire.ts) needs and no more: the lease index queried (on that
   * index alone); records, definitions and chunks read; and its transactions' items: chunks updated,
   * records deleted, `expired` history entries put.
   */
  grantLeaseSweep(fn: ServiceFunction): void {
    fn.function.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: LEASE_SWEEP_ACTIONS,
        resources: [this.table.tableArn, `${this.table.tableArn}/index/${BY_EXPIRY_INDEX}`],
      }),
    );
  }

  /** What the store reads, and nothing it writes. */
  grantReadData(fn: ServiceFunction): void {
    this.table.grant(fn.function, ...STORE_READ_ACTIONS);
    this.acknowledgeIndexes(fn);
  }

  private acknowledgeIndexes(fn: ServiceFunction): void {
    fn.acknowledgeGrant(
      `IAM5[Resource::${nagArn(this.table.node.defaultChild as CfnTable)}/index/*]`,
      `DynamoDB grants name the table's indexes as <table>/index/*; this table has exactly four (${BY_VALUE_INDEX}, queried for lookups and listings by value, ${BY_OWNER_INDEX}, for what an owner holds in every pool, ${BY_EXPIRY_INDEX}, for leases that ran out, and ${BY_ROOM_INDEX}, queried for free values), so the wildcard adds no other resource.`,
    );
  }

  /**
   * Every throttle the store can meet on an on-demand table (partition key range, table maximum or
   * account quota): ThrottledRequests per operation counts whole requests, whatever the reason and
   * including GSI write throttles that throttle the base write; Read/WriteThrottleEvents add the items
   * throttled inside batch requests, which ThrottledRequests counts only when every item is throttled.
   * Each series is FILLed with 0 so a quiet operation does not blank the sum.
   */
  metricThrottles(period: Duration): IMetric {
    const tableName = this.table.tableName;
    const metric = (metricName: string, dimensionsMap: Record<string, string>) =>
      new Metric({ namespace: 'AWS/DynamoDB', metricName, dimensionsMap, statistic: 'Sum', period });
    const usingMetrics: Record<string, Metric> = {};
    for (const operation of STORE_OPERATIONS) {
      usingMetrics[operation.toLowerCase()] = metric('ThrottledRequests', { TableName: tableName, Operation: operation });
    }
    usingMetrics.readevents = metric('ReadThrottleEvents', { TableName: tableName });
    usingMetrics.writeevents = metric('WriteThrottleEvents', { TableName: tableName });
    return new MathExpression({
      expression: `SUM([${Object.keys(usingMetrics)
        .map((k) => `FILL(${k}, 0)`)
        .join(', ')}])`,
      usingMetrics,
      label: 'DynamoDB throttles',
      period,
    });
  }
}
