// The frame of every screen: a heading (the page's accessible name), actions, content.
// `data-ready` turns true once the page's own data is in; a DataTable inside says for
// itself whether it is loading (`data-loading`). The browser tests time a screen until it
// is ready with no table loading.
import type { ReactNode } from 'react';
import { Flex, Typography } from 'antd';

export function Page({
  id,
  title,
  extra,
  ready,
  children,
}: {
  id: string;
  title: ReactNode;
  extra?: ReactNode;
  ready: boolean;
  children: ReactNode;
}) {
  return (
    <section className="page" data-page={id} data-ready={ready ? 'true' : 'false'} aria-busy={!ready}>
      <Flex className="page-head" justify="space-between" align="center" wrap gap={8}>
        <Typography.Title level={1} className="page-title">
          {title}
        </Typography.Title>
        {extra ? <div className="page-extra">{extra}</div> : null}
      </Flex>
      {children}
    </section>
  );
}
