//! Which network interface a multicast call acts on: [`MulticastInterface`], and the
//! membership a port asks its socket for, of one family throughout.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::DatagramError;

/// The network interface a port joins a multicast group on
/// ([`join_group_on`](super::DatagramContext::join_group_on)) or sends multicast datagrams
/// from ([`set_outgoing_interface`](super::DatagramContext::set_outgoing_interface)).
/// Twisted's `interface` argument.
///
/// The two families name an interface differently, as the operating system does: IPv4 by
/// one of the interface's addresses (`imr_interface`, `IP_MULTICAST_IF`), IPv6 by the
/// interface's index (`ipv6mr_interface`, `IPV6_MULTICAST_IF`), the number `ip link` shows
/// before an interface's name and `if_nametoindex` returns; on Linux the loopback
/// interface's is in `/sys/class/net/lo/ifindex`. An interface of the other family than
/// the group (or, for the outgoing interface, than the port) is
/// [`DatagramError::InterfaceFamily`].
///
/// # Examples
///
/// ```
/// use std::net::Ipv4Addr;
/// use torsade::datagram::MulticastInterface;
///
/// let loopback = MulticastInterface::from(Ipv4Addr::LOCALHOST);
/// assert_eq!(loopback, MulticastInterface::V4(Ipv4Addr::LOCALHOST));
/// assert_eq!(loopback.to_string(), "interface 127.0.0.1");
/// assert_eq!(MulticastInterface::V6(1).to_string(), "interface index 1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MulticastInterface {
    /// For IPv4: the interface with this address; `0.0.0.0` lets the system choose.
    V4(Ipv4Addr),
    /// For IPv6: the interface with this index; 0 lets the system choose.
    V6(u32),
}

impl MulticastInterface {
    /// Whether this interface is of the family of `address`.
    pub(crate) fn is_of_family(self, address: IpAddr) -> bool {
        matches!(
            (self, address),
            (MulticastInterface::V4(_), IpAddr::V4(_)) | (MulticastInterface::V6(_), IpAddr::V6(_))
        )
    }

    /// The error for using this interface with `address`, of the other family.
    pub(crate) fn family_error(self, address: IpAddr) -> DatagramError {
        DatagramError::InterfaceFamily {
            interface: self,
            address,
        }
    }
}

impl From<Ipv4Addr> for MulticastInterface {
    fn from(address: Ipv4Addr) -> MulticastInterface {
        MulticastInterface::V4(address)
    }
}

impl fmt::Display for MulticastInterface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MulticastInterface::V4(address) => write!(f, "interface {address}"),
            MulticastInterface::V6(index) => write!(f, "interface index {index}"),
        }
    }
}

/// A group and the interface to join or leave it on, of one family: what a port asks of
/// its socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Membership {
    V4 {
        group: Ipv4Addr,
        interface: Ipv4Addr,
    },
    V6 {
        group: Ipv6Addr,
        interface: u32,
    },
}

impl Membership {
    /// `group` on `interface`, or on the interface the system chooses when `None`.
    pub(crate) fn new(
        group: IpAddr,
        interface: Option<MulticastInterface>,
    ) -> Result<Membership, DatagramError> {
        match (group, interface) {
            (IpAddr::V4(group), None) => Ok(Membership::V4 {
                group,
                interface: Ipv4Addr::UNSPECIFIED,
            }),
            (IpAddr::V4(group), Some(MulticastInterface::V4(interface))) => {
                Ok(Membership::V4 { group, interface })
            }
            (IpAddr::V6(group), None) => Ok(Membership::V6 {
                group,
                interface: 0,
            }),
            (IpAddr::V6(group), Some(MulticastInterface::V6(interface))) => {
                Ok(Membership::V6 { group, interface })
            }
            (_, Some(interface)) => Err(interface.family_error(group)),
        }
    }

    /// The group.
    pub(crate) fn group(self) -> IpAddr {
        match self {
            Membership::V4 { group, .. } => group.into(),
            Membership::V6 { group, .. } => group.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::{Membership, MulticastInterface};
    use crate::datagram::DatagramError;

    #[test]
    fn a_membership_takes_an_interface_of_the_group_s_family_or_none() {
        let v4: IpAddr = "239.1.2.3".parse().unwrap();
        let v6: IpAddr = "ff02::1:3".parse().unwrap();
        let on = MulticastInterface::V4(Ipv4Addr::LOCALHOST);
        assert_eq!(
            Membership::new(v4, Some(on)).unwrap(),
            Membership::V4 {
                group: "239.1.2.3".parse().unwrap(),
                interface: Ipv4Addr::LOCALHOST
            }
        );
        assert_eq!(
            Membership::new(v6, None).unwrap(),
            Membership::V6 {
                group: "ff02::1:3".parse().unwrap(),
                interface: 0
            }
        );
        assert_eq!(
            Membership::new(v6, Some(MulticastInterface::V6(1)))
                .unwrap()
                .group(),
            v6
        );
    }

    #[test]
    fn an_interface_of_the_other_family_is_a_typed_error() {
        let v4: IpAddr = "239.1.2.3".parse().unwrap();
        let v6: IpAddr = "ff02::1:3".parse().unwrap();
        let cases = [
            (v4, MulticastInterface::V6(1)),
            (v6, MulticastInterface::V4(Ipv4Addr::LOCALHOST)),
        ];
        for (group, interface) in cases {
            assert!(matches!(
                Membership::new(group, Some(interface)),
                Err(DatagramError::InterfaceFamily { interface: i, address })
                    if i == interface && address == group
            ));
        }
    }
}
