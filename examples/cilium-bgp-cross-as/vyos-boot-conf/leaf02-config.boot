/* leaf02: the configuration the seed builds with `set` commands (section 5.1), as VyOS
 * saves it in /opt/vyatta/etc/config/config.boot. bgplane translates it to FRR. */
interfaces {
    ethernet eth0 {
        address dhcp
    }
    ethernet eth1 {
        address 10.0.10.1/24
    }
    ethernet eth2 {
        address 10.0.102.2/24
    }
    ethernet eth3 {
        address 10.0.104.2/24
    }
    loopback lo {
    }
}
nat {
    source {
        rule 10 {
            description "Do NOT NAT traffic to private networks"
            destination {
                address 10.0.0.0/8
            }
            exclude
        }
        rule 100 {
            outbound-interface {
                name eth0
            }
            source {
                address 10.0.10.0/24
            }
            translation {
                address masquerade
            }
        }
    }
}
protocols {
    bgp {
        address-family {
            ipv4-unicast {
                network 10.0.10.0/24 {
                }
            }
        }
        neighbor 10.0.102.1 {
            address-family {
                ipv4-unicast {
                }
            }
            remote-as 1000
        }
        neighbor 10.0.104.1 {
            address-family {
                ipv4-unicast {
                }
            }
            remote-as 500
        }
        neighbor 10.0.10.11 {
            address-family {
                ipv4-unicast {
                    route-reflector-client
                }
            }
            remote-as 65010
        }
        neighbor 10.0.10.12 {
            address-family {
                ipv4-unicast {
                    route-reflector-client
                }
            }
            remote-as 65010
        }
        parameters {
            router-id 10.0.10.1
        }
        system-as 65010
    }
}
system {
    host-name leaf02
}
// Warning: Do not remove the following line.
// vyos-config-version: "bgp@5:interfaces@32:nat@8:system@27"
