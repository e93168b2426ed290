//! What an SMSC answers, in the cascade's terms: a refused `submit_sm`
//! classified per SMPP 3.4's command_status table, a refused bind and a
//! broken link described without the PDUs or the password.

use super::super::SendReply;
use rusmpp::CommandStatus;

/// The status of an SMSC's refusal, when the error is one.
pub(super) fn status_of(e: &rusmppc::error::Error) -> Option<CommandStatus> {
    match e {
        rusmppc::error::Error::UnexpectedResponse { response } => {
            let st = response.status();
            (st != CommandStatus::EsmeRok).then_some(st)
        }
        _ => None,
    }
}

/// Why a bind was refused, in words.
pub(super) fn bind_reason(status: CommandStatus) -> String {
    let code = u32::from(status);
    let what = match code {
        0x0E => "invalid password (ESME_RINVPASWD)",
        0x0F => "invalid system_id (ESME_RINVSYSID)",
        0x0D => "bind failed (ESME_RBINDFAIL)",
        0x05 => "already bound (ESME_RALYBND)",
        0x53 => "invalid system_type (ESME_RINVSYSTYP)",
        _ => return format!("command_status 0x{code:08X}"),
    };
    format!("{what}, command_status 0x{code:08X}")
}

/// A link error, without the PDUs it may carry.
pub(super) fn link_error(e: &rusmppc::error::Error) -> String {
    match e {
        rusmppc::error::Error::UnexpectedResponse { response } => format!(
            "unexpected answer {:?} with command_status 0x{:08X}",
            response.id(),
            u32::from(response.status())
        ),
        other => other.to_string(),
    }
}

/// A `submit_sm_resp`'s refusal as the cascade's kind.
pub fn classify(status: CommandStatus, server: &str) -> SendReply {
    let code = u32::from(status);
    let error = format!("{server}: submit_sm refused: {status:?} (command_status 0x{code:08X})");
    match code {
        0x0B => SendReply::RecipientInvalid { error },
        // ESME_RTHROTTLED: the ESME exceeded its allowed message rate.
        0x58 => SendReply::Throttled {
            error,
            retry_after_ms: None,
        },
        // ESME_RMSGQFUL: the SMSC's queue for the destination is full.
        0x14 => SendReply::Transient {
            error,
            retry_after_ms: None,
        },
        _ => SendReply::Permanent { error },
    }
}
