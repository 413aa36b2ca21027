/* spine02: the configuration the seed builds with `set` commands (section 5.1), as VyOS
 * saves it in /opt/vyatta/etc/config/config.boot. bgplane translates it to FRR. */
interfaces {
    ethernet eth0 {
        address dhcp
    }
    ethernet eth1 {
        address 10.0.102.1/24
    }
    ethernet eth2 {
        address 10.0.103.1/24
    }
    ethernet eth3 {
        address 192.168.0.1/24
    }
    loopback lo {
    }
}
protocols {
    bgp {
        address-family {
            ipv4-unicast {
                network 192.168.0.0/24 {
                }
            }
        }
        neighbor 10.0.102.2 {
            address-family {
                ipv4-unicast {
                }
            }
            remote-as 65010
        }
        neighbor 10.0.103.2 {
            address-family {
                ipv4-unicast {
                }
            }
            remote-as 65005
        }
        parameters {
            router-id 10.0.102.1
        }
        system-as 1000
    }
}
system {
    host-name spine02
}
// Warning: Do not remove the following line.
// vyos-config-version: "bgp@5:interfaces@32:nat@8:system@27"
