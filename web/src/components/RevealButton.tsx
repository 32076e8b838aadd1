// "Reveal": asks for a reason (it goes to the audit trail), then asks the server for the
// value in full. Without customers:reveal the button is not offered.
import { useState } from 'react';
import { Button, Form, Input, Modal, Typography } from 'antd';
import { EyeOutlined } from '@ant-design/icons';
import { asApiError, type ApiError } from '../api/errors';
import { useI18n } from '../i18n/I18n';
import { ApiErrorAlert } from './ApiErrorAlert';

export function RevealButton({ onReveal, label }: { onReveal: (reason: string) => Promise<void>; label: string }) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [form] = Form.useForm<{ reason: string }>();

  const submit = async () => {
    const { reason } = await form.validateFields();
    setBusy(true);
    setError(null);
    try {
      await onReveal(reason.trim());
      setOpen(false);
      form.resetFields();
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <Button size="small" type="link" icon={<EyeOutlined />} onClick={() => setOpen(true)} aria-label={`${t('customers.reveal')} ${label}`}>
        {t('customers.reveal')}
      </Button>
      <Modal
        title={`${t('customers.revealTitle')}：${label}`}
        open={open}
        onOk={() => void submit()}
        onCancel={() => setOpen(false)}
        okText={t('common.confirm')}
        cancelText={t('common.cancel')}
        confirmLoading={busy}
        destroyOnHidden
      >
        <Typography.Paragraph type="secondary">{t('customers.revealReasonHelp')}</Typography.Paragraph>
        <ApiErrorAlert error={error} />
        <Form form={form} layout="vertical" onFinish={() => void submit()}>
          <Form.Item
            name="reason"
            label={t('customers.revealReason')}
            rules={[{ required: true, min: 4, whitespace: true, message: t('customers.revealReasonRequired') }]}
          >
            <Input.TextArea rows={2} maxLength={500} autoFocus data-testid="reveal-reason" />
          </Form.Item>
        </Form>
      </Modal>
    </>
  );
}
